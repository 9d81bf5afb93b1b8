package de.sfhost.module.runtime;

import de.sfhost.module.api.ModuleLog;
import de.starface.core.component.StarfaceComponentProvider;
import de.vertico.starface.module.core.runtime.IAGIRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.InvocationInfo;
import org.apache.commons.logging.Log;

/** The environment the host hands a module function (Log of this PBX API). */
final class Environment implements IAGIRuntimeEnvironment {
    private final Log log;
    private final InvocationInfo info;
    private final StarfaceComponentProvider provider;

    Environment(Object log, InvocationInfo info, StarfaceComponentProvider provider) {
        this.log = (Log) log;
        this.info = info;
        this.provider = provider;
    }

    /** The module's log as this API's logger (made once per module). */
    static Object logFor(String moduleId, ModuleLog log) {
        return new ModuleLogAdapter(log);
    }

    @Override
    public Log getLog() {
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
