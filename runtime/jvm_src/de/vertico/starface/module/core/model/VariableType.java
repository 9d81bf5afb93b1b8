package de.vertico.starface.module.core.model;

/** The types of a module variable, as module functions name them in their annotations. */
public enum VariableType {
    STRING, NUMBER, BOOLEAN, LIST, MAP, OBJECT, STARFACE_USER, STARFACE_GROUP, FILE_RESOURCE,
    ASTERISK_SOUND_FILE, SNOM_SOUND_FILE, TIPTEL_SOUND_FILE, DATE, TIME
}
