package de.sfhost.module.runtime;

import de.sfhost.core.HookFailure;
import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.KernelHook;
import de.sfhost.module.api.ModuleLog;
import de.sfhost.module.ext.CallEffects;
import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.ModuleInstance;
import de.vertico.starface.module.core.model.Variable;
import de.vertico.starface.module.core.model.VariableType;
import de.vertico.starface.module.core.runtime.IAGIJavaExecutable;
import de.vertico.starface.module.core.runtime.IBaseExecutable;
import de.vertico.starface.module.core.runtime.InvocationInfo;
import de.vertico.starface.module.core.runtime.annotations.InputVar;
import de.vertico.starface.module.core.runtime.annotations.OutputVar;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How the host runs a module's functions (one class per function, a no-arg constructor,
 * {@code execute(context)}): a new object per invocation, its {@code @InputVar} fields filled
 * from the instance's variables by field name, {@code execute} with this PBX API's
 * environment, then its {@code @OutputVar} fields read.
 */
public final class FunctionHost {
    private FunctionHost() {
    }

    /**
     * Why the class {@code className} of a module build does not load (the error's class and
     * message), or null when it loads and initialises. Only names cross to the host's Python
     * side, never the module's classes themselves, so that dropping a build's loader frees
     * its classes.
     */
    public static String loadProblem(ClassLoader loader, String className) {
        try {
            Class.forName(className, true, loader);
            return null;
        } catch (ClassNotFoundException e) {
            return "java.lang.ClassNotFoundException: " + e.getMessage();
        } catch (LinkageError e) {
            return e.toString();
        }
    }

    private static Class<?> load(ClassLoader loader, String className)
            throws ClassNotFoundException {
        return Class.forName(className, true, loader);
    }

    /** The public no-arg constructor of a function class; a message naming what is wrong. */
    private static Constructor<?> constructor(Class<?> cls, Class<?> kind) {
        if (!kind.isAssignableFrom(cls)) {
            throw new IllegalArgumentException(cls.getName() + " does not implement "
                    + kind.getName());
        }
        if (Modifier.isAbstract(cls.getModifiers()) || !Modifier.isPublic(cls.getModifiers())) {
            throw new IllegalArgumentException(cls.getName() + " is not a public concrete class");
        }
        try {
            return cls.getConstructor();
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(cls.getName()
                    + " has no public constructor without arguments");
        }
    }

    private static Object newFunction(Constructor<?> ctor) throws Exception {
        try {
            return ctor.newInstance();
        } catch (InvocationTargetException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception) {
                throw (Exception) c;
            }
            throw (Error) c;
        }
    }

    /**
     * The module's call-processing function (class {@code className}) as the routing core's hook: each call
     * runs a new {@code cls} object with the call's {@link CallEffects}; the invocation's
     * instance is the module itself (its instances are decided together).
     */
    public static KernelHook kernelFunction(String moduleId, String moduleName,
            ClassLoader loader, String className, ModuleLog log, ModulePython python)
            throws ClassNotFoundException {
        final Constructor<?> ctor = constructor(load(loader, className), IAGIJavaExecutable.class);
        final Object logger = Environment.logFor(moduleId, log);
        final InvocationInfo info = new InvocationInfo(moduleId, new ModuleInstance(moduleId,
                moduleName, false, Collections.<Variable>emptyList()));
        return new KernelFunction(ctor, logger, info, python);
    }

    private static final class KernelFunction implements KernelHook {
        private final Constructor<?> ctor;
        private final Object logger;
        private final InvocationInfo info;
        private final ModulePython python;

        KernelFunction(Constructor<?> ctor, Object logger, InvocationInfo info,
                ModulePython python) {
            this.ctor = ctor;
            this.logger = logger;
            this.info = info;
            this.python = python;
        }

        @Override
        public void onCall(CallContext ctx, CallOverrides overrides) throws Exception {
            IAGIJavaExecutable f = (IAGIJavaExecutable) newFunction(ctor);
            CallEffects effects = new CallEffects(ctx, overrides);
            f.execute(new Environment(logger, info, new InvocationProvider(effects, python)));
        }
    }

    /**
     * Run the life-cycle function (class {@code className}) for one instance (or, with a null instance id,
     * for the module as a whole); its {@code @OutputVar} fields by name. The function's own
     * exceptions and errors are thrown as they are.
     */
    public static Map<String, Object> runLifeCycle(String moduleId, String moduleName,
            ClassLoader loader, String className, ModuleLog log, ModulePython python,
            String instanceId, String instanceName, boolean disabled,
            Map<String, Object> variables) throws Exception {
        Constructor<?> ctor = constructor(load(loader, className), IBaseExecutable.class);
        List<Variable> vars = new ArrayList<>();
        if (variables != null) {
            for (Map.Entry<String, Object> e : variables.entrySet()) {
                vars.add(new Variable(e.getKey(), typeOf(e.getValue()), e.getValue()));
            }
        }
        ModuleInstance instance = instanceId == null
                ? new ModuleInstance(moduleId, moduleName, false, vars)
                : new ModuleInstance(instanceId, instanceName, disabled, vars);
        IBaseExecutable f = (IBaseExecutable) newFunction(ctor);
        fillInputs(f, variables);
        f.execute(new Environment(Environment.logFor(moduleId, log),
                new InvocationInfo(moduleId, instance), new InvocationProvider(null, python)));
        return readOutputs(f);
    }

    private static VariableType typeOf(Object v) {
        if (v instanceof Boolean) {
            return VariableType.BOOLEAN;
        }
        if (v instanceof Number) {
            return VariableType.NUMBER;
        }
        if (v instanceof Collection) {
            return VariableType.LIST;
        }
        return VariableType.STRING;
    }

    /** Fill the {@code @InputVar} fields whose names are variables of the instance. */
    static void fillInputs(Object f, Map<String, Object> variables) throws HookFailure {
        if (variables == null) {
            return;
        }
        for (Field field : f.getClass().getFields()) {
            if (field.getAnnotation(InputVar.class) == null
                    || !variables.containsKey(field.getName())) {
                continue;
            }
            Object value = variables.get(field.getName());
            try {
                field.set(f, convert(value, field.getType()));
            } catch (IllegalAccessException | IllegalArgumentException e) {
                throw new HookFailure("input " + field.getName() + " of "
                        + f.getClass().getName() + " cannot take the value " + value, null);
            }
        }
    }

    private static Object convert(Object v, Class<?> type) {
        if (v == null || type.isInstance(v)) {
            return v;
        }
        String text = String.valueOf(v);
        if (type == String.class) {
            return v instanceof Collection ? String.join(",", strings((Collection<?>) v)) : text;
        }
        if (type == Integer.class || type == int.class) {
            return v instanceof Number ? ((Number) v).intValue() : Integer.valueOf(text.trim());
        }
        if (type == Long.class || type == long.class) {
            return v instanceof Number ? ((Number) v).longValue() : Long.valueOf(text.trim());
        }
        if (type == Double.class || type == double.class) {
            return v instanceof Number ? ((Number) v).doubleValue() : Double.valueOf(text.trim());
        }
        if (type == Boolean.class || type == boolean.class) {
            return Boolean.valueOf(text.trim());
        }
        if (List.class.isAssignableFrom(type) || type == Collection.class) {
            List<String> out = new ArrayList<>();
            for (String part : text.split(",")) {
                if (!part.trim().isEmpty()) {
                    out.add(part.trim());
                }
            }
            return out;
        }
        throw new IllegalArgumentException("unsupported input type " + type.getName());
    }

    private static List<String> strings(Collection<?> c) {
        List<String> out = new ArrayList<>();
        for (Object o : c) {
            out.add(String.valueOf(o));
        }
        return out;
    }

    /** The {@code @OutputVar} fields of a function after it ran, by field name. */
    static Map<String, Object> readOutputs(Object f) throws IllegalAccessException {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Field field : f.getClass().getFields()) {
            if (field.getAnnotation(OutputVar.class) != null) {
                out.put(field.getName(), field.get(f));
            }
        }
        return out;
    }
}
