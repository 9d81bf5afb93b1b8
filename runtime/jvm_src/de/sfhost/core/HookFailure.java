package de.sfhost.core;

/** A hook's own failure, carrying the message for the call result and a detail for the log. */
public final class HookFailure extends Exception {
    private static final long serialVersionUID = 1L;
    private final String detail;

    public HookFailure(String message, String detail) {
        super(message);
        this.detail = detail;
    }

    /** The long form (e.g. a Python traceback); may be null. */
    public String getDetail() {
        return detail;
    }
}
