package de.sfhost.core;

import de.sfhost.module.api.KernelHook;

/**
 * A hook that runs Python code: the core lets one such hook at a time in (a fair gate, as
 * there is one GIL), see RoutingCore.
 */
public interface GatedHook extends KernelHook {
}
