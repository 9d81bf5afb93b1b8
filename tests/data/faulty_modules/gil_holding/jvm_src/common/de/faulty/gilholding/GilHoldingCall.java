package de.faulty.gilholding;

import de.sfhost.module.ext.CallEffects;
import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.Visibility;
import de.vertico.starface.module.core.runtime.IAGIJavaExecutable;
import de.vertico.starface.module.core.runtime.IAGIRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.annotations.Function;

/**
 * The test module's call-processing function (agiKernelEntryPoint,
 * PostTargetDeterminationIncoming): asks the module's Python hook, which holds the GIL, on every call.
 */
@Function(visibility = Visibility.Private, description = "GilHolding: call routing")
public class GilHoldingCall implements IAGIJavaExecutable {
    @Override
    public void execute(IAGIRuntimeEnvironment context) throws Exception {
        CallEffects call = context.provider().fetch(CallEffects.class);
        context.provider().fetch(ModulePython.class).applyCallHook(call);
    }
}
