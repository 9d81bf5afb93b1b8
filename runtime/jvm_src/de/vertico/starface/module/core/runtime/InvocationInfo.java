package de.vertico.starface.module.core.runtime;

import de.vertico.starface.module.core.model.ModuleInstance;

/**
 * What the host tells a function about the invocation: the module it belongs to and the
 * instance it runs for. A module's call-processing function runs once per call for all the
 * module's instances (this host decides them together); its instance is then the module itself
 * (id and name of the module, no variables).
 */
public class InvocationInfo {
    private final String moduleId;
    private final ModuleInstance moduleInstance;

    public InvocationInfo(String moduleId, ModuleInstance moduleInstance) {
        this.moduleId = moduleId;
        this.moduleInstance = moduleInstance;
    }

    public String getModuleId() {
        return moduleId;
    }

    public ModuleInstance getModuleInstance() {
        return moduleInstance;
    }
}
