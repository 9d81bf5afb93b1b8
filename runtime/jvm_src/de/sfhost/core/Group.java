package de.sfhost.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** A ring group: its members ring by the group's strategy; members in DND are skipped. */
public final class Group extends Party {
    /** All members at once. */
    public static final String PARALLEL = "parallel";
    /** One after the other, in the listed order. */
    public static final String SEQUENTIAL = "sequential";
    /** One after the other, starting one further on each call. */
    public static final String ROUND_ROBIN = "round_robin";

    final String strategy;
    final List<String> members;
    private final AtomicInteger nextStart = new AtomicInteger();

    Group(String id, String name, String strategy, String[] members) {
        super(id, name);
        if (!PARALLEL.equals(strategy) && !SEQUENTIAL.equals(strategy)
                && !ROUND_ROBIN.equals(strategy)) {
            throw new IllegalArgumentException("unknown ring strategy " + strategy);
        }
        this.strategy = strategy;
        List<String> m = new ArrayList<>();
        Collections.addAll(m, members);
        this.members = Collections.unmodifiableList(m);
    }

    /**
     * The members in the order they are offered the call, for this call; {@code turn}: a
     * round-robin group starts one further on the next call (false: a replay, which must
     * neither see another order than its fellow replays nor move the real calls' rotation).
     */
    List<String> ringOrder(boolean turn) {
        if (!ROUND_ROBIN.equals(strategy) || members.isEmpty()) {
            return members;
        }
        int at = turn ? nextStart.getAndIncrement() : nextStart.get();
        int start = Math.floorMod(at, members.size());
        List<String> order = new ArrayList<>(members.size());
        for (int i = 0; i < members.size(); i++) {
            order.add(members.get((start + i) % members.size()));
        }
        return order;
    }
}
