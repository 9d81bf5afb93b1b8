package de.sfhost.core;

/**
 * What an in-process Python hook implements (a JPype proxy; tests and benchmarks only, see
 * {@link InProcessPythonHook}): the call's numbers in one string ({@link HookAnswer#numbers}),
 * the answer in one string ({@link HookAnswer}).
 */
public interface PythonHookBridge {
    String answer(String numbers);
}
