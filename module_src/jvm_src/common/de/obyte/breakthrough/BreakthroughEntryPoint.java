package de.obyte.breakthrough;

import de.sfhost.module.api.ModuleEntry;
import de.sfhost.module.api.ModuleLog;

/**
 * Breakthrough's entry class, named by the descriptor's lifeCycleEntryPoints (InstanceCreated,
 * InstanceChanged, InstanceDeactivated). It writes each life-cycle step to the instance log
 * through {@link BreakthroughLog}, the adapter that differs between the current and the legacy
 * build.
 */
public final class BreakthroughEntryPoint implements ModuleEntry {
    @Override
    public void onInstanceCreated(String instanceName, ModuleLog log) {
        BreakthroughLog.info(log, "Breakthrough instance '" + instanceName + "' created");
    }

    @Override
    public void onInstanceChanged(String instanceName, ModuleLog log) {
        BreakthroughLog.info(log, "Breakthrough instance '" + instanceName + "' changed");
    }

    @Override
    public void onInstanceDeactivated(String instanceName, ModuleLog log) {
        BreakthroughLog.info(log, "Breakthrough instance '" + instanceName + "' deactivated");
    }
}
