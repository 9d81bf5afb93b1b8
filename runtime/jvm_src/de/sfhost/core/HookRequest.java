package de.sfhost.core;

import de.sfhost.module.api.CallOverrides;
import java.util.concurrent.CompletableFuture;

/**
 * One call handed to a Python hook: the numbers it needs and the future the routing worker
 * waits on. The Python side reads {@link #called} and {@link #caller} and answers once with
 * {@link #answer(int, String)} or {@link #fail(String, String)}.
 */
public final class HookRequest {
    public static final int IGNORE_DND = 1;
    public static final int IGNORE_REDIRECTS = 2;
    public static final int IGNORE_REDIRECTS_TO_CALLER = 4;
    public static final int FORCE_CALL_WAITING = 8;
    /** Separates the applied instances in {@link #answer(int, String)}. */
    public static final char RECORD_SEP = '\u001e';
    /** Separates an instance name from its effects, and the effects from each other. */
    public static final char UNIT_SEP = '\u001f';

    public final String called;
    /** Null when the caller withheld the number. */
    public final String caller;
    final CompletableFuture<CallOverrides> future = new CompletableFuture<>();

    HookRequest(String called, String caller) {
        this.called = called;
        this.caller = caller;
    }

    /** True once the worker stopped waiting (time budget spent) or the request was answered. */
    public boolean isDone() {
        return future.isDone();
    }

    /**
     * The hook's answer: {@code flags} from the constants above; {@code applied} lists the
     * matching instances as "name US effect US effect RS name ..." (null or empty for none).
     */
    public void answer(int flags, String applied) {
        CallOverrides o = new CallOverrides();
        o.setIgnoreDnd((flags & IGNORE_DND) != 0);
        o.setIgnoreRedirects((flags & IGNORE_REDIRECTS) != 0);
        o.setIgnoreRedirectsToCaller((flags & IGNORE_REDIRECTS_TO_CALLER) != 0);
        o.setForceCallWaiting((flags & FORCE_CALL_WAITING) != 0);
        if (applied != null && !applied.isEmpty()) {
            for (String record : split(applied, RECORD_SEP)) {
                String[] parts = split(record, UNIT_SEP);
                String[] effects = new String[parts.length - 1];
                System.arraycopy(parts, 1, effects, 0, effects.length);
                o.noteApplied(parts[0], effects);
            }
        }
        future.complete(o);
    }

    /** The hook failed: {@code message} goes to the call result, {@code detail} to the log. */
    public void fail(String message, String detail) {
        future.completeExceptionally(new HookFailure(message, detail));
    }

    private static String[] split(String s, char sep) {
        java.util.List<String> out = new java.util.ArrayList<>();
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == sep) {
                out.add(s.substring(start, i));
                start = i + 1;
            }
        }
        out.add(s.substring(start));
        return out.toArray(new String[0]);
    }
}
