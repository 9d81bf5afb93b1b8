package de.sfhost.core;

import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.HookRegistry;
import de.sfhost.module.api.KernelHook;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Which of the effects that hooks asked for changed what happened to a call.
 *
 * <p>The call is routed again with subsets of those effects, by the same routing rules (a
 * second {@link RoutingCore} of one worker whose only hook replays the chosen effects), and
 * the results are compared by outcome, ringing phones and forwards. An effect changed the call
 * when leaving it out, together with some of the other effects whose absence alone changes
 * nothing, gives another result. So an effect that only repeats another one (the
 * self-redirect bypass beside the bypass of every redirect) still counts, and one whose work
 * another effect made moot (the busy-redirect bypass beside forced call waiting) does not.
 *
 * <p>Known effects are the four of {@link CallOverrides}; any other name is never counted.
 * Replays run one at a time (they share the replay core); they are for the call tester and
 * {@code sfm call}, not for the call path.
 */
public final class EffectChanges {
    /** The effect names the replay knows, in the order of {@link CallOverrides}' flags. */
    public static final String[] KNOWN = {
        "bypass_dnd", "bypass_redirects", "bypass_self_redirects_only", "force_call_waiting",
    };

    private static final String REPLAY_MODULE = "effect-replay";
    private static RoutingCore replayCore;
    private static volatile boolean[] replaying = new boolean[KNOWN.length];

    private EffectChanges() {
    }

    /**
     * The names among {@code asked} whose effect changed the call from {@code caller} (null:
     * withheld) to {@code called}, routed with {@code core}'s directory and hop limit. Both
     * numbers as {@link RoutingCore#route} takes them.
     */
    public static synchronized String[] changed(RoutingCore core, String caller, String called,
            String[] asked) throws Exception {
        List<Integer> flags = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        for (String name : asked) {
            names.add(name);
        }
        for (int i = 0; i < KNOWN.length; i++) {
            if (names.contains(KNOWN[i])) {
                flags.add(i);
            }
        }
        if (flags.isEmpty()) {
            return new String[0];
        }
        RoutingCore replay = replayCore(core);
        int n = flags.size();
        int full = (1 << n) - 1;
        List<List<Object>> results = new ArrayList<>();
        for (int mask = 0; mask <= full; mask++) {
            boolean[] on = new boolean[KNOWN.length];
            for (int b = 0; b < n; b++) {
                if ((mask & (1 << b)) != 0) {
                    on[flags.get(b)] = true;
                }
            }
            replaying = on;
            results.add(key(replay.route(caller, called)));
        }
        List<Object> actual = results.get(full);
        List<String> out = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            int e = 1 << b;
            boolean changed = false;
            // w: the other effects left out as well; their absence alone must change nothing.
            for (int w = 0; w <= full && !changed; w++) {
                if ((w & e) != 0) {
                    continue;
                }
                int kept = full & ~w;
                changed = Objects.equals(results.get(kept), actual)
                        && !Objects.equals(results.get(kept & ~e), actual);
            }
            if (changed) {
                out.add(KNOWN[flags.get(b)]);
            }
        }
        return out.toArray(new String[0]);
    }

    /** What two routings must share to count as the same: outcome, rings, forwards. */
    private static List<Object> key(RouteResult r) {
        List<Object> k = new ArrayList<>();
        k.add(r.getOutcome());
        k.add(new ArrayList<>(r.getRings()));
        k.add(new ArrayList<>(r.getForwardedTo()));
        return k;
    }

    private static RoutingCore replayCore(RoutingCore like) {
        if (replayCore == null) {
            replayCore = new RoutingCore(1);
            replayCore.holdGroupRotation();
            KernelHook hook = (ctx, overrides) -> apply(replaying, overrides);
            replayCore.register(REPLAY_MODULE, HookRegistry.STAGE_POST_TARGET_DETERMINATION_INCOMING,
                    hook);
        }
        replayCore.setDirectory(like.getDirectory());
        replayCore.setHopLimit(like.getHopLimit());
        return replayCore;
    }

    private static void apply(boolean[] on, CallOverrides overrides) {
        overrides.setIgnoreDnd(on[0]);
        overrides.setIgnoreRedirects(on[1]);
        overrides.setIgnoreRedirectsToCaller(on[2]);
        overrides.setForceCallWaiting(on[3]);
    }
}
