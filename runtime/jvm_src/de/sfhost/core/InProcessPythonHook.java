package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.KernelHook;

/**
 * A Python hook in the host's own interpreter, for tests and benchmarks only: it asks its
 * {@link PythonHookBridge} (a JPype proxy) on the calling thread. Uploaded module code never
 * runs this way; it runs in a process of its own ({@link ModuleProcess}).
 */
public final class InProcessPythonHook implements KernelHook {
    private final PythonHookBridge bridge;
    private final HookAnswer answers = new HookAnswer();

    public InProcessPythonHook(PythonHookBridge bridge) {
        if (bridge == null) {
            throw new IllegalArgumentException("bridge is null");
        }
        this.bridge = bridge;
    }

    @Override
    public void onCall(CallContext ctx, CallOverrides overrides) throws HookFailure {
        answers.apply(bridge.answer(HookAnswer.numbers(ctx)), overrides);
    }
}
