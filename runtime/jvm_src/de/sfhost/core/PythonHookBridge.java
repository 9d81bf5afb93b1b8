package de.sfhost.core;

/**
 * What the Python shim implements (a JPype proxy) for one module: the call's numbers in one
 * string, the answer in one string, so a call crosses the bridge once each way.
 *
 * <p>{@code numbers} is "called" or "called US caller" ({@link PythonHook#UNIT_SEP}; no caller:
 * withheld). The answer is one of:
 * <ul>
 * <li>a flags character ('0' + flags, flags from {@link PythonHook#IGNORE_DND} ... to
 * {@link PythonHook#ANSWER_VOICEMAIL}) followed by
 * the applied instances "name US effect US effect RS name ..." (nothing when none);</li>
 * <li>"!" message US detail: the hook failed (the message for the call result, the detail,
 * e.g. the Python traceback, for the module log). Python exceptions are answered this way
 * because one raised through a proxy reaches Java without its message.</li>
 * </ul>
 */
public interface PythonHookBridge {
    String answer(String numbers);
}
