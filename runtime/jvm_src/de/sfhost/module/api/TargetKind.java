package de.sfhost.module.api;

/** What the PBX determined as the target of an incoming call. */
public enum TargetKind {
    USER, GROUP
}
