package de.sfhost.module.runtime;

import de.sfhost.module.ext.CallEffects;
import de.sfhost.module.ext.ModulePython;
import de.starface.core.component.StarfaceComponent;
import de.starface.core.component.StarfaceComponentProvider;
import java.util.Collections;

/** The components of one invocation: the call's effects (calls only) and the module's Python. */
final class InvocationProvider extends StarfaceComponentProvider {
    private final CallEffects call;
    private final ModulePython python;

    InvocationProvider(CallEffects call, ModulePython python) {
        super(Collections.<Class<?>, StarfaceComponent>emptyMap());
        this.call = call;
        this.python = python;
    }

    @Override
    public <T extends StarfaceComponent> T fetch(Class<T> type) {
        if (type == CallEffects.class && call != null) {
            return type.cast(call);
        }
        if (type == ModulePython.class && python != null) {
            return type.cast(python);
        }
        if (type == CallEffects.class) {
            throw new IllegalArgumentException(
                    "CallEffects exist only while a call-processing function runs");
        }
        if (type == ModulePython.class) {
            throw new IllegalArgumentException("this module has no Python code in its build");
        }
        return super.fetch(type);
    }
}
