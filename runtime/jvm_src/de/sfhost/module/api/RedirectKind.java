package de.sfhost.module.api;

/** The three call forwards a STARFACE user can set. */
public enum RedirectKind {
    /** Forward every call at once. */
    ALWAYS,
    /** Forward when the user is busy (and call waiting is off). */
    BUSY,
    /** Forward when the user does not answer within the set seconds (at once under DND). */
    TIMEOUT
}
