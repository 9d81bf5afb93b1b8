package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import java.util.concurrent.CompletableFuture;

/**
 * A hook that answers through a future instead of on the calling thread. The core waits for
 * the future with the time budget, so the routing worker never runs module code itself.
 */
public interface AsyncHook {
    /** Start the hook for {@code ctx}; the future completes with the hook's own overrides. */
    CompletableFuture<CallOverrides> start(CallContext ctx);
}
