package de.sfhost.module.api;

/**
 * A module's hook at stage PostTargetDeterminationIncoming. It runs once per call for a user
 * target (never for a group), must answer quickly, and may only add wishes to {@code overrides}.
 * A hook that throws or overruns the host's time budget is skipped for that call: the call
 * routes as if the module were absent.
 */
public interface KernelHook {
    void onCall(CallContext ctx, CallOverrides overrides) throws Exception;
}
