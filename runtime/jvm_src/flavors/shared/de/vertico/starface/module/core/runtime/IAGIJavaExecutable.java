package de.vertico.starface.module.core.runtime;

/** A module function that processes a call (e.g. at stage PostTargetDeterminationIncoming). */
public interface IAGIJavaExecutable {
    void execute(IAGIRuntimeEnvironment context) throws Exception;
}
