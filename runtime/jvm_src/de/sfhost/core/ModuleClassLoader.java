package de.sfhost.core;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The class loader of one installed module build: it defines the build's classes from their
 * bytes (wherever they sat in the .sfm) and finds everything else in its parent, the module
 * API of the PBX version the host runs as. One per build, so two modules with the same class
 * names do not clash, and dropping a build drops its classes.
 */
public final class ModuleClassLoader extends ClassLoader {
    static {
        registerAsParallelCapable();
    }

    private final String label;
    private final Map<String, byte[]> classes = new ConcurrentHashMap<>();

    public ModuleClassLoader(String label, ClassLoader parent) {
        super(parent);
        this.label = label;
    }

    /** Offer the class {@code name} (binary name, e.g. a.b.C) with these class file bytes. */
    public void add(String name, byte[] bytes) {
        classes.put(name, bytes.clone());
    }

    public boolean holds(String name) {
        return classes.containsKey(name);
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        byte[] b = classes.get(name);
        if (b == null) {
            throw new ClassNotFoundException(name);
        }
        return defineClass(name, b, 0, b.length);
    }

    /** Whether {@code name} can be loaded (from the build or the API); never throws. */
    public boolean canLoad(String name) {
        try {
            loadClass(name);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "module classes of " + label;
    }
}
