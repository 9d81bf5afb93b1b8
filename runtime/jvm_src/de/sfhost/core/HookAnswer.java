package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import java.util.ArrayList;
import java.util.List;

/**
 * A module hook's one-string answer (runtime/modules/hook_answer.py writes it): a flags
 * character ('0' + flags) followed by the applied instances "name US effect US effect RS name
 * ..." (nothing when none), or "!" message US detail when the hook failed (the message for the
 * call result, the detail, e.g. the Python traceback, for the module log). {@link #apply}
 * decodes an answer into a call's overrides, remembering the last answer with instances
 * (hooks tend to answer the same again).
 */
public final class HookAnswer {
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

    /** An answer text and its wishes, decoded once; never changed after construction. */
    private static final class Decoded {
        final String text;
        final CallOverrides wishes;

        Decoded(String text, CallOverrides wishes) {
            this.text = text;
            this.wishes = wishes;
        }
    }

    /** The last answer with instances. */
    private volatile Decoded last;

    /** Add the wishes of {@code answer} to {@code overrides}; a failure answer throws. */
    public void apply(String answer, CallOverrides overrides) throws HookFailure {
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

    /** The call's numbers as a hook request: "called" or "called US caller" (withheld: no
     * caller). */
    public static String numbers(CallContext ctx) {
        String caller = ctx.getCallerNumber();
        String called = ctx.getCalledNumber();
        return caller == null ? called : called + UNIT_SEP + caller;
    }

    /** Add the wishes of a bridge answer to {@code overrides}; a failure answer throws. */
    public static void decode(String answer, CallOverrides o) throws HookFailure {
        if (answer == null || answer.isEmpty()) {
            throw new HookFailure("the module's Python code gave no answer", null);
        }
        char first = answer.charAt(0);
        if (first == '!') {
            int sep = answer.indexOf(UNIT_SEP);
            throw sep < 0 ? new HookFailure(answer.substring(1), null)
                    : new HookFailure(answer.substring(1, sep), answer.substring(sep + 1));
        }
        int flags = first - '0';
        if (flags < 0 || flags > 63) {
            throw new HookFailure("the module's Python code gave a malformed answer", answer);
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
