package de.sfhost.module.api;

/** The entry class of a module: the host tells it about its instances' life cycle. */
public interface ModuleEntry {
    void onInstanceCreated(String instanceName, ModuleLog log);

    void onInstanceChanged(String instanceName, ModuleLog log);

    void onInstanceDeactivated(String instanceName, ModuleLog log);
}
