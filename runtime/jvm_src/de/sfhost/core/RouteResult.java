package de.sfhost.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The routing decision of one call: the fields of the `sfm call` JSON document. */
public final class RouteResult {
    final String callId;
    String outcome;
    final List<String> rings = new ArrayList<>();
    final List<String> forwardedTo = new ArrayList<>();
    String originallyCalled;
    final List<String[]> applied = new ArrayList<>();
    final List<String> moduleErrors = new ArrayList<>();

    RouteResult(String callId) {
        this.callId = callId;
    }

    public String getCallId() {
        return callId;
    }

    /** "ring", "waiting", "forward", "busy" or "voicemail". */
    public String getOutcome() {
        return outcome;
    }

    public List<String> getRings() {
        return Collections.unmodifiableList(rings);
    }

    public List<String> getForwardedTo() {
        return Collections.unmodifiableList(forwardedTo);
    }

    /** The display for the forward target; null when the call was not forwarded. */
    public String getOriginallyCalled() {
        return originallyCalled;
    }

    /** Each entry: {instanceName, effect...}. */
    public List<String[]> getApplied() {
        return Collections.unmodifiableList(applied);
    }

    public List<String> getModuleErrors() {
        return Collections.unmodifiableList(moduleErrors);
    }

    /** The result as the JSON object of `sfm call` (keys in the documented order). */
    public String toJson() {
        StringBuilder b = new StringBuilder(256);
        b.append("{\"outcome\":");
        str(b, outcome);
        b.append(",\"rings\":");
        list(b, rings);
        b.append(",\"forwarded_to\":");
        list(b, forwardedTo);
        b.append(",\"originally_called\":");
        str(b, originallyCalled);
        b.append(",\"applied\":[");
        for (int i = 0; i < applied.size(); i++) {
            String[] a = applied.get(i);
            if (i > 0) {
                b.append(',');
            }
            b.append("{\"instance\":");
            str(b, a[0]);
            b.append(",\"effects\":[");
            for (int j = 1; j < a.length; j++) {
                if (j > 1) {
                    b.append(',');
                }
                str(b, a[j]);
            }
            b.append("]}");
        }
        b.append("],\"module_errors\":");
        list(b, moduleErrors);
        b.append('}');
        return b.toString();
    }

    private static void list(StringBuilder b, List<String> items) {
        b.append('[');
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) {
                b.append(',');
            }
            str(b, items.get(i));
        }
        b.append(']');
    }

    private static void str(StringBuilder b, String s) {
        if (s == null) {
            b.append("null");
            return;
        }
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                case '\n':
                    b.append("\\n");
                    break;
                case '\r':
                    b.append("\\r");
                    break;
                case '\t':
                    b.append("\\t");
                    break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }
}
