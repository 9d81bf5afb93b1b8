package de.vertico.starface.module.core.model;

/** Whether a module function is offered to other modules. */
public enum Visibility {
    Private, Public
}
