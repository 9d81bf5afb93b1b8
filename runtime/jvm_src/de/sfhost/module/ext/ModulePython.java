package de.sfhost.module.ext;

import de.sfhost.core.HookAnswer;
import de.sfhost.core.HookFailure;
import de.sfhost.core.ModuleProcess;
import de.starface.core.component.StarfaceComponent;

/**
 * This host's extension: the bridge from a module's Java functions to the module's own Python
 * code in its installed build, which runs in a process of its own. Fetched with
 * {@code context.provider().fetch(ModulePython.class)}.
 *
 * <p>A life-cycle function calls {@link #start()}, which starts the process, imports the
 * package and calls its shim's start (which registers the call hook); the module's
 * call-processing function calls {@link #applyCallHook} with the call's {@link CallEffects},
 * which asks the hook once, within the call's budget, and applies its answer.
 */
public final class ModulePython implements StarfaceComponent {
    private final String moduleId;
    private final ModuleProcess process;
    private final HookAnswer answers = new HookAnswer();
    private volatile boolean started;

    public ModulePython(String moduleId, ModuleProcess process) {
        this.moduleId = moduleId;
        this.process = process;
    }

    public String getModuleId() {
        return moduleId;
    }

    /**
     * Start the module's Python code; once per installed build (later calls return at once).
     * Throws when the Python code fails or does not start in time, with its reason.
     */
    public synchronized void start() throws HookFailure {
        if (started) {
            return;
        }
        try {
            process.start();
        } catch (HookFailure e) {
            throw new HookFailure("the module's Python code did not start: " + e.getMessage(),
                    null);
        }
        started = true;
    }

    public boolean isStarted() {
        return started;
    }

    public boolean hasCallHook() {
        return process.hasCallHook();
    }

    /**
     * Ask the module's Python call hook about this call and apply its answer; nothing when no
     * hook is registered. A failing, late or stopped hook throws (the routing core then routes
     * without the module).
     */
    public void applyCallHook(CallEffects call) throws HookFailure {
        if (process.hasCallHook()) {
            answers.apply(process.answer(call.context()), call.overrides());
        }
    }
}
