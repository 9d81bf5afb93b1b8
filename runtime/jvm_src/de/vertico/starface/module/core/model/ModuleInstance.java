package de.vertico.starface.module.core.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A configured instance of a module as a function sees it: id, name, state, variables. */
public class ModuleInstance {
    private final String id;
    private final String name;
    private final boolean disabled;
    private final List<Variable> inputVars;

    public ModuleInstance(String id, String name, boolean disabled, List<Variable> inputVars) {
        this.id = id;
        this.name = name;
        this.disabled = disabled;
        this.inputVars = Collections.unmodifiableList(new ArrayList<Variable>(inputVars));
    }

    public String getId() {
        return id;
    }

    public String getName() {
        return name;
    }

    public boolean getDisabled() {
        return disabled;
    }

    public List<Variable> getInputVars() {
        return inputVars;
    }

    /** The variable with that name, or null. */
    public Variable findVisibleVariable(String variableName) {
        for (Variable v : inputVars) {
            if (v.getName().equals(variableName)) {
                return v;
            }
        }
        return null;
    }
}
