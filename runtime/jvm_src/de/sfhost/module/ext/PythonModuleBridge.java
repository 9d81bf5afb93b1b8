package de.sfhost.module.ext;

/**
 * What the host's Python side implements (a JPype proxy) for one installed module build: it
 * imports the module's Python package from that build and calls its shim's {@code start(api)}.
 */
public interface PythonModuleBridge {
    /** Start the module's Python code; null when done, else the reason it failed (in words). */
    String start(ModulePython module);
}
