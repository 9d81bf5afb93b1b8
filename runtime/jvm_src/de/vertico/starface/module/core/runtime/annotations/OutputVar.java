package de.vertico.starface.module.core.runtime.annotations;

import de.vertico.starface.module.core.model.VariableType;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** A public field of a module function that the host reads after execute. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.FIELD)
public @interface OutputVar {
    String label() default "";

    String description() default "";

    VariableType type() default VariableType.STRING;
}
