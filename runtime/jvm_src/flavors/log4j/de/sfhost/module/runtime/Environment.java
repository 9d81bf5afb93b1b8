package de.sfhost.module.runtime;

import de.sfhost.module.api.ModuleLog;
import de.starface.core.component.StarfaceComponentProvider;
import de.vertico.starface.module.core.runtime.IAGIRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.InvocationInfo;
import org.apache.logging.log4j.Logger;

/** The environment the host hands a module function (Logger of this PBX API). */
final class Environment implements IAGIRuntimeEnvironment {
    private final Logger log;
    private final InvocationInfo info;
    private final StarfaceComponentProvider provider;

    Environment(Object log, InvocationInfo info, StarfaceComponentProvider provider) {
        this.log = (Logger) log;
        this.info = info;
        this.provider = provider;
    }

    /** The module's log as this API's logger (made once per module). */
    static Object logFor(String moduleId, ModuleLog log) {
        return new ModuleLogAdapter(moduleId, log);
    }

    @Override
    public Logger getLog() {
        return log;
    }

    @Override
    public InvocationInfo getInvocationInfo() {
        return info;
    }

    @Override
    public StarfaceComponentProvider provider() {
        return provider;
    }
}
