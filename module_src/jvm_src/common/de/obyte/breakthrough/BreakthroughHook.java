package de.obyte.breakthrough;

import de.sfhost.module.api.TargetKind;
import de.sfhost.module.ext.CallEffects;
import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.Visibility;
import de.vertico.starface.module.core.runtime.IAGIJavaExecutable;
import de.vertico.starface.module.core.runtime.IAGIRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.annotations.Function;

/**
 * Breakthrough's call-processing function at stage PostTargetDeterminationIncoming (the
 * descriptor's agiKernelEntryPoint). The rules are the module's Python code; this class keeps
 * the documented limitation in one place: the module acts on user targets only, never on
 * groups. It asks the Python hook once for all instances and applies its answer to the call.
 */
@Function(visibility = Visibility.Private, description = "Breakthrough: call routing")
public class BreakthroughHook implements IAGIJavaExecutable {
    @Override
    public void execute(IAGIRuntimeEnvironment context) throws Exception {
        CallEffects call = context.provider().fetch(CallEffects.class);
        if (call.getTargetKind() != TargetKind.USER) {
            return;
        }
        context.provider().fetch(ModulePython.class).applyCallHook(call);
    }
}
