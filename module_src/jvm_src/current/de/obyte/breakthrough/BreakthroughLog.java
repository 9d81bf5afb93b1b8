package de.obyte.breakthrough;

import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import org.apache.logging.log4j.Logger;

/** The log of the current build (PBX 8.1.0.4 and later): log4j2's Logger. */
final class BreakthroughLog {
    /** Which PBX log API this build calls. */
    static final String API = "org.apache.logging.log4j.Logger";

    private BreakthroughLog() {
    }

    static void debug(IRuntimeEnvironment context, String message) {
        Logger log = context.getLog();
        if (log.isDebugEnabled()) {
            log.debug(message);
        }
    }
}
