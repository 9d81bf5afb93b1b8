package de.example.sperrliste;

import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import org.apache.logging.log4j.Logger;

/** The log of the current build (PBX 8.1.0.4 and later): log4j2's Logger. */
final class SperrlisteLog {
    private SperrlisteLog() {
    }

    static void info(IRuntimeEnvironment context, String message) {
        Logger log = context.getLog();
        log.info(message);
    }
}
