package de.obyte.breakthrough;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.KernelHook;
import de.sfhost.module.api.TargetKind;

/**
 * Breakthrough's kernel hook at stage PostTargetDeterminationIncoming, named by the
 * descriptor's agiKernelEntryPoint.
 *
 * <p>The rule engine is the module's Python package ({@code python/breakthrough/} in the .sfm);
 * the host hands it in as {@code engine}. This class keeps the documented limitation in one
 * place: the module acts on user targets only, never on groups. Without an engine it changes
 * nothing, so a call always goes through.
 */
public final class BreakthroughHook implements KernelHook {
    private final KernelHook engine;

    public BreakthroughHook(KernelHook engine) {
        this.engine = engine;
    }

    @Override
    public void onCall(CallContext ctx, CallOverrides overrides) throws Exception {
        if (ctx.getTargetKind() != TargetKind.USER || engine == null) {
            return;
        }
        engine.onCall(ctx, overrides);
    }
}
