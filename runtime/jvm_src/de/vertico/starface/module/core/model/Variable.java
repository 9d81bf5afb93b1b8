package de.vertico.starface.module.core.model;

/**
 * One variable of a module instance, by the name the module descriptor gives it. The host
 * hands values over as it stores them: a text, a number, a boolean, or a list of texts.
 */
public class Variable {
    private final String name;
    private final VariableType type;
    private Object value;

    public Variable(String name, VariableType type, Object value) {
        this.name = name;
        this.type = type;
        this.value = value;
    }

    public String getName() {
        return name;
    }

    public VariableType getType() {
        return type;
    }

    /** The value as text (a list joined by commas, as STARFACE stores lists), "" when unset. */
    public String getValue() {
        if (value == null) {
            return "";
        }
        if (value instanceof java.util.Collection) {
            StringBuilder b = new StringBuilder();
            for (Object o : (java.util.Collection<?>) value) {
                if (b.length() > 0) {
                    b.append(',');
                }
                b.append(o);
            }
            return b.toString();
        }
        return String.valueOf(value);
    }

    /** The value as the host stores it (String, Number, Boolean or a List of String). */
    public Object getRawValue() {
        return value;
    }

    /** Changes this invocation's copy only; the stored configuration is the host's. */
    public void setValue(Object value) {
        this.value = value;
    }
}
