package de.sfhost.core;

import de.sfhost.module.api.RedirectKind;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The PBX directory as routing sees it: users, groups and an exact map from every form of
 * every number to its party. Forms are computed by the loader (the number plan lives on the
 * Python side), so a lookup here is one hash probe. Immutable once built; a new directory
 * replaces the old one whole, so calls in flight keep the one they started with.
 */
public final class Directory {
    private final Map<String, Party> byNumber;
    private final Map<String, User> users;
    private final Map<String, Group> groups;

    /** The directory as loaded (this one, or the one {@link #withBusy} started from). */
    private final Directory base;
    /** The users {@link #withBusy} made busy (empty for a loaded directory). */
    private final Set<String> inCall;

    private Directory(Builder b) {
        this.byNumber = new HashMap<>(b.byNumber);
        this.users = new LinkedHashMap<>(b.users);
        this.groups = new LinkedHashMap<>(b.groups);
        this.base = this;
        this.inCall = Collections.emptySet();
    }

    private Directory(Directory base, Map<String, Party> byNumber, Map<String, User> users,
            Set<String> inCall) {
        this.byNumber = byNumber;
        this.users = users;
        this.groups = base.groups;
        this.base = base;
        this.inCall = inCall;
    }

    /**
     * This directory's loaded form with the users {@code inCall} busy as well (users in a call
     * on the SIP front); the same object when nothing changes. Built whole, so a call in flight
     * keeps the directory it started with.
     */
    public Directory withBusy(Set<String> inCall) {
        Directory b = base;
        Set<String> now = Collections.unmodifiableSet(new java.util.HashSet<>(inCall));
        if (now.equals(this.inCall)) {
            return this;
        }
        Map<String, User> u = new LinkedHashMap<>(b.users);
        Map<User, User> swapped = new HashMap<>();
        for (String id : now) {
            User plain = b.users.get(id);
            if (plain != null && !plain.busy) {
                User busy = new User(plain);
                u.put(id, busy);
                swapped.put(plain, busy);
            }
        }
        if (swapped.isEmpty() && now.isEmpty()) {
            return b;
        }
        Map<String, Party> n = new HashMap<>(b.byNumber);
        if (!swapped.isEmpty()) {
            for (Map.Entry<String, Party> e : n.entrySet()) {
                User busy = swapped.get(e.getValue());
                if (busy != null) {
                    e.setValue(busy);
                }
            }
        }
        return new Directory(b, n, u, now);
    }

    /** The directory as loaded, without the users {@link #withBusy} made busy. */
    public Directory getBase() {
        return base;
    }

    /** The party a number (in any of its forms) belongs to, or null for a number outside. */
    public Party lookup(String number) {
        return number == null ? null : byNumber.get(number);
    }

    public User user(String id) {
        return users.get(id);
    }

    public Group group(String id) {
        return groups.get(id);
    }

    public int size() {
        return users.size() + groups.size();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Collects users, groups and number forms; {@link #build()} checks references. */
    public static final class Builder {
        private final Map<String, Party> byNumber = new HashMap<>();
        private final Map<String, User> users = new LinkedHashMap<>();
        private final Map<String, Group> groups = new LinkedHashMap<>();

        public Builder addUser(String id, String name, boolean dnd, boolean callWaiting,
                boolean busy) {
            if (users.containsKey(id) || groups.containsKey(id)) {
                throw new IllegalArgumentException("duplicate id " + id);
            }
            users.put(id, new User(id, name, dnd, callWaiting, busy));
            return this;
        }

        /** The user's first number (the name its SIP phone registers with). */
        public Builder setFirstNumber(String userId, String number) {
            User u = users.get(userId);
            if (u == null) {
                throw new IllegalArgumentException("no user " + userId);
            }
            u.firstNumber = number;
            return this;
        }

        /** Set a user's redirect; {@code kind} is ALWAYS, BUSY or TIMEOUT. */
        public Builder setRedirect(String userId, String kind, boolean enabled, String destination,
                String[] destinationForms, int seconds) {
            User u = users.get(userId);
            if (u == null) {
                throw new IllegalArgumentException("no user " + userId);
            }
            RedirectKind k = RedirectKind.valueOf(kind);
            u.redirects.put(k, new Redirect(k, enabled, destination, destinationForms, seconds));
            return this;
        }

        public Builder addGroup(String id, String name, String strategy, String[] members) {
            if (users.containsKey(id) || groups.containsKey(id)) {
                throw new IllegalArgumentException("duplicate id " + id);
            }
            groups.put(id, new Group(id, name, strategy, members));
            return this;
        }

        /** Map one form of a number to the user or group {@code partyId}. */
        public Builder addNumber(String form, String partyId) {
            Party p = users.containsKey(partyId) ? users.get(partyId) : groups.get(partyId);
            if (p == null) {
                throw new IllegalArgumentException("no user or group " + partyId);
            }
            Party before = byNumber.put(form, p);
            if (before != null && before != p) {
                throw new IllegalArgumentException(
                        "number " + form + " belongs to both " + before.id + " and " + partyId);
            }
            return this;
        }

        public Directory build() {
            for (Group g : groups.values()) {
                for (String m : g.members) {
                    if (!users.containsKey(m)) {
                        throw new IllegalArgumentException(
                                "group " + g.id + " has member " + m + ", which is no user");
                    }
                }
            }
            return new Directory(this);
        }
    }
}
