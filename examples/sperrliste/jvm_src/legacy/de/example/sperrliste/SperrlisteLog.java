package de.example.sperrliste;

import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import org.apache.commons.logging.Log;

/** The log of the legacy build (PBX 7.0.0.2 up to 7.3): commons-logging's Log. */
final class SperrlisteLog {
    private SperrlisteLog() {
    }

    static void info(IRuntimeEnvironment context, String message) {
        Log log = context.getLog();
        log.info(message);
    }
}
