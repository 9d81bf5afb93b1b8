package de.sfhost.sip;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;

/**
 * What the SIP front needs of the host's number rules, in Java so that a decision never enters
 * Python: a number as signalled made plain, a withheld caller, and the display of a name in an
 * answer line. The reference is runtime/pbx_number_plan.py ({@code normalise}, {@code is_withheld});
 * tests/sip/test_sip_decider.py holds the two to the same answers with hypothesis.
 */
public final class SipNumbers {
    /** What people paste between digits (runtime/pbx_number_plan.py FORMATTING). */
    private static final String FORMATTING = " \t\u00a0-/()";
    /** Caller ids that mean "no number" (runtime/pbx_number_plan.py WITHHELD). */
    private static final Set<String> WITHHELD =
            Set.of("", "anonymous", "unknown", "withheld", "restricted", "private",
                    "unavailable");
    private static final int DISPLAY_MAX = 64;

    private SipNumbers() {
    }

    /** True when a caller id means "no number": null, "", "anonymous", "unknown", ... */
    public static boolean isWithheld(String number) {
        return number == null || WITHHELD.contains(strip(number).toLowerCase(Locale.ROOT));
    }

    /**
     * {@code number} without formatting characters, or null unless it is digits with an
     * optional leading +.
     */
    public static String normalise(String number) {
        if (number == null) {
            return null;
        }
        String s = strip(number);
        StringBuilder clean = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (FORMATTING.indexOf(c) < 0) {
                clean.append(c);
            }
        }
        int start = clean.length() > 0 && clean.charAt(0) == '+' ? 1 : 0;
        if (clean.length() == start) {
            return null;
        }
        for (int i = start; i < clean.length(); i++) {
            char c = clean.charAt(i);
            if (c < '0' || c > '9') {
                return null;
            }
        }
        return clean.toString();
    }

    /** Why {@link #normalise} refused {@code number} (a sentence part naming it). */
    public static String problem(String what, String number) {
        return what + " '" + number + "' is no number (digits with an optional leading +)";
    }

    /**
     * A name for the answer line: without the characters that would break Kamailio's header
     * ({@code " \ CR LF ;}), at most 64 characters, percent-encoded (UTF-8; letters, digits
     * and {@code _.-~} stay), which Kamailio's {@code s.unescape.param} reads back.
     */
    public static String display(String name) {
        StringBuilder kept = new StringBuilder();
        int count = 0;
        for (int i = 0; i < name.length() && count < DISPLAY_MAX; ) {
            int cp = name.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == '"' || cp == '\\' || cp == '\r' || cp == '\n' || cp == ';') {
                continue;
            }
            kept.appendCodePoint(cp);
            count++;
        }
        StringBuilder out = new StringBuilder(kept.length() * 3);
        for (byte b : kept.toString().getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '.' || c == '-' || c == '~') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return out.toString();
    }

    /** Python's str.strip(): the characters str.isspace() calls white space, both ends. */
    static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isSpace(s.charAt(start))) {
            start++;
        }
        while (end > start && isSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    private static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }
}
