package de.starface.core.component;

import java.util.Collections;
import java.util.Map;

/**
 * Hands module functions the host's components: {@code context.provider().fetch(X.class)}.
 * The provider of an invocation knows that invocation's components (e.g. the call being
 * decided); {@link #getInstance()} knows none that belong to an invocation.
 */
public class StarfaceComponentProvider {
    private static final StarfaceComponentProvider HOST_WIDE =
            new StarfaceComponentProvider(Collections.<Class<?>, StarfaceComponent>emptyMap());
    private final Map<Class<?>, StarfaceComponent> components;

    protected StarfaceComponentProvider(Map<Class<?>, StarfaceComponent> components) {
        this.components = components;
    }

    public static StarfaceComponentProvider getInstance() {
        return HOST_WIDE;
    }

    /**
     * The component of that class; IllegalArgumentException naming it when this host has
     * none (a function written for a real STARFACE may ask for components we do not offer).
     */
    public <T extends StarfaceComponent> T fetch(Class<T> type) {
        StarfaceComponent c = components.get(type);
        if (c == null) {
            throw new IllegalArgumentException("this host offers no component " + type.getName());
        }
        return type.cast(c);
    }
}
