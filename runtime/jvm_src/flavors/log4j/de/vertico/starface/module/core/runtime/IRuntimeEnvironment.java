package de.vertico.starface.module.core.runtime;

import de.starface.core.component.StarfaceComponentProvider;
import org.apache.logging.log4j.Logger;

/** What a module function gets from the host when it runs (PBX 7.3 and later: log4j2). */
public interface IRuntimeEnvironment {
    /** The log of the module instance the function runs for. */
    Logger getLog();

    /** The module and the instance this invocation belongs to. */
    InvocationInfo getInvocationInfo();

    /** The host's components: {@code provider().fetch(X.class)}. */
    StarfaceComponentProvider provider();
}
