package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import java.util.ArrayList;
import java.util.List;

/**
 * A module hook written in Python, as the core sees it: a plain {@link KernelHook} that asks
 * the module's {@link PythonHookBridge} on the calling thread and decodes its one-string
 * answer. The core calls it on its worker threads, which keep a Python thread state for their
 * whole life (see {@link ThreadHost}), so a call costs about one GIL crossing. The core's
 * watchdog enforces the time budget; a Java caller outside the core that calls
 * {@link #onCall} directly waits as long as the Python hook takes.
 */
public final class PythonHook implements GatedHook {
    public static final int IGNORE_DND = 1;
    public static final int IGNORE_REDIRECTS = 2;
    public static final int IGNORE_REDIRECTS_TO_CALLER = 4;
    public static final int FORCE_CALL_WAITING = 8;
    public static final int ANSWER_BUSY = 16;
    public static final int ANSWER_VOICEMAIL = 32;
    /** Separates the applied instances in an answer. */
    public static final char RECORD_SEP = '\u001e';
    /** Separates the called from the caller number, an instance name from its effects, the
     * effects from each other, and a failure's message from its detail. */
    public static final char UNIT_SEP = '\u001f';

    private final PythonHookBridge bridge;

    /** An answer text and its wishes, decoded once; never changed after construction. */
    private static final class Decoded {
        final String text;
        final CallOverrides wishes;

        Decoded(String text, CallOverrides wishes) {
            this.text = text;
            this.wishes = wishes;
        }
    }

    /** The last answer with instances (hooks tend to answer the same again). */
    private volatile Decoded last;

    public PythonHook(PythonHookBridge bridge) {
        if (bridge == null) {
            throw new IllegalArgumentException("bridge is null");
        }
        this.bridge = bridge;
    }

    @Override
    public void onCall(CallContext ctx, CallOverrides overrides) throws HookFailure {
        String caller = ctx.getCallerNumber();
        String called = ctx.getCalledNumber();
        String answer = bridge.answer(caller == null ? called : called + UNIT_SEP + caller);
        if (answer != null && answer.length() > 1 && answer.charAt(0) != '!') {
            Decoded d = last;
            if (d == null || !d.text.equals(answer)) {
                CallOverrides wishes = new CallOverrides();
                decode(answer, wishes);
                d = new Decoded(answer, wishes);
                last = d;
            }
            overrides.addAll(d.wishes);
            return;
        }
        decode(answer, overrides);
    }

    /** Add the wishes of a bridge answer to {@code overrides}; a failure answer throws. */
    public static void decode(String answer, CallOverrides o) throws HookFailure {
        if (answer == null || answer.isEmpty()) {
            throw new HookFailure("the Python hook gave no answer", null);
        }
        char first = answer.charAt(0);
        if (first == '!') {
            int sep = answer.indexOf(UNIT_SEP);
            throw sep < 0 ? new HookFailure(answer.substring(1), null)
                    : new HookFailure(answer.substring(1, sep), answer.substring(sep + 1));
        }
        int flags = first - '0';
        if (flags < 0 || flags > 63) {
            throw new HookFailure("the Python hook gave a malformed answer", answer);
        }
        if ((flags & IGNORE_DND) != 0) {
            o.setIgnoreDnd(true);
        }
        if ((flags & IGNORE_REDIRECTS) != 0) {
            o.setIgnoreRedirects(true);
        }
        if ((flags & IGNORE_REDIRECTS_TO_CALLER) != 0) {
            o.setIgnoreRedirectsToCaller(true);
        }
        if ((flags & FORCE_CALL_WAITING) != 0) {
            o.setForceCallWaiting(true);
        }
        if ((flags & ANSWER_BUSY) != 0) {
            o.setAnswerBusy(true);
        }
        if ((flags & ANSWER_VOICEMAIL) != 0) {
            o.setAnswerVoicemail(true);
        }
        if (answer.length() > 1) {
            for (String record : split(answer.substring(1), RECORD_SEP)) {
                String[] parts = split(record, UNIT_SEP);
                String[] effects = new String[parts.length - 1];
                System.arraycopy(parts, 1, effects, 0, effects.length);
                o.noteApplied(parts[0], effects);
            }
        }
    }

    private static String[] split(String s, char sep) {
        List<String> out = new ArrayList<>();
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
