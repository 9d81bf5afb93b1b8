package de.sfhost.module.ext;

import de.sfhost.core.HookFailure;
import de.sfhost.core.PythonHook;
import de.sfhost.core.PythonHookBridge;
import de.starface.core.component.StarfaceComponent;

/**
 * This host's extension: the bridge from a module's Java functions to the module's own Python
 * code in its installed build (through the host's JPype bridge). Fetched with
 * {@code context.provider().fetch(ModulePython.class)}.
 *
 * <p>A life-cycle function calls {@link #start()}; the module's Python shim then registers its
 * call hook ({@link #registerCallHook}); the module's call-processing function calls
 * {@link #applyCallHook} with the call's {@link CallEffects}, which asks the hook once (one
 * string each way across the bridge) and applies its answer.
 */
public final class ModulePython implements StarfaceComponent {
    private final String moduleId;
    private final PythonModuleBridge bridge;
    private volatile PythonHook hook;
    private volatile boolean started;

    public ModulePython(String moduleId, PythonModuleBridge bridge) {
        this.moduleId = moduleId;
        this.bridge = bridge;
    }

    public String getModuleId() {
        return moduleId;
    }

    /**
     * Import the module's Python package and call its shim's start; once per installed build
     * (later calls return at once). Throws when the Python code fails, with its reason.
     */
    public synchronized void start() throws HookFailure {
        if (started) {
            return;
        }
        String failure = bridge.start(this);
        if (failure != null) {
            throw new HookFailure("the module's Python code did not start: " + failure, null);
        }
        started = true;
    }

    public boolean isStarted() {
        return started;
    }

    /** Called by the module's Python shim: the hook asked on every call from now on. */
    public void registerCallHook(PythonHookBridge callHook) {
        this.hook = new PythonHook(callHook);
    }

    public boolean hasCallHook() {
        return hook != null;
    }

    /**
     * Ask the module's Python call hook about this call and apply its answer; nothing when no
     * hook is registered. A failing hook throws (the routing core then routes without it).
     */
    public void applyCallHook(CallEffects call) throws HookFailure {
        PythonHook h = hook;
        if (h != null) {
            h.onCall(call.context(), call.overrides());
        }
    }
}
