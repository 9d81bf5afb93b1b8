package de.obyte.breakthrough;

import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import org.apache.commons.logging.Log;

/** The log of the legacy build (PBX 7.0.0.2 and later): commons-logging's Log. */
final class BreakthroughLog {
    /** Which PBX log API this build calls. */
    static final String API = "org.apache.commons.logging.Log";

    private BreakthroughLog() {
    }

    static void debug(IRuntimeEnvironment context, String message) {
        Log log = context.getLog();
        if (log.isDebugEnabled()) {
            log.debug(message);
        }
    }
}
