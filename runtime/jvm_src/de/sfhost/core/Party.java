package de.sfhost.core;

/** A user or a group of the PBX directory: something a number can lead to. */
public abstract class Party {
    final String id;
    final String name;

    Party(String id, String name) {
        this.id = id;
        this.name = name == null ? "" : name;
    }

    public String getId() {
        return id;
    }

    public String getName() {
        return name;
    }
}
