package de.vertico.starface.module.core.runtime;

/** A module function that runs outside a call (life cycle, timers): one class per function. */
public interface IBaseExecutable {
    void execute(IRuntimeEnvironment context) throws Exception;
}
