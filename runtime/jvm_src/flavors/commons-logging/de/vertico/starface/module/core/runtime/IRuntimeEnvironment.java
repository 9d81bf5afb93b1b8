package de.vertico.starface.module.core.runtime;

import de.starface.core.component.StarfaceComponentProvider;
import org.apache.commons.logging.Log;

/** What a module function gets from the host when it runs (PBX before 7.3: commons-logging). */
public interface IRuntimeEnvironment {
    /** The log of the module instance the function runs for. */
    Log getLog();

    /** The module and the instance this invocation belongs to. */
    InvocationInfo getInvocationInfo();

    /** The host's components: {@code provider().fetch(X.class)}. */
    StarfaceComponentProvider provider();
}
