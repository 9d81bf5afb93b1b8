package de.vertico.starface.module.core.runtime;

/** The environment of a call-processing function (an entry point of a call stage). */
public interface IAGIRuntimeEnvironment extends IRuntimeEnvironment {
}
