package de.sfhost.module.api;

/**
 * Where modules register their kernel hooks. One hook per module id and stage; registering again
 * replaces the earlier hook. The only stage is {@link #STAGE_POST_TARGET_DETERMINATION_INCOMING}.
 */
public interface HookRegistry {
    String STAGE_POST_TARGET_DETERMINATION_INCOMING = "PostTargetDeterminationIncoming";

    /** Register {@code hook}; errors of the hook are reported to {@code log} (may be null). */
    void register(String moduleId, String stage, KernelHook hook, ModuleLog log);

    /** Register {@code hook} without a log of its own. */
    void register(String moduleId, String stage, KernelHook hook);

    /** Remove the module's hook at that stage; nothing happens when none is registered. */
    void unregister(String moduleId, String stage);
}
