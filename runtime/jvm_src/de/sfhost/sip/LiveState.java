package de.sfhost.sip;

/**
 * The host's side of the users' live state (DND, redirects): the decider calls {@link #reload}
 * when the live stamp file changed ({@code sfm pbx user} in another process, the phones page),
 * and the host loads its directory with the new state into the routing core.
 */
public interface LiveState {
    /** Load the users' live state into the routing core now; returns when it is loaded. */
    void reload();
}
