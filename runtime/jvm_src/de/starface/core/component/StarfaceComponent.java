package de.starface.core.component;

/** A host component that a module function may fetch through its provider. */
public interface StarfaceComponent {
}
