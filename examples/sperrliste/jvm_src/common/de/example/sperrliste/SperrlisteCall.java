package de.example.sperrliste;

import de.sfhost.module.api.TargetKind;
import de.sfhost.module.ext.CallEffects;
import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.Visibility;
import de.vertico.starface.module.core.runtime.IAGIJavaExecutable;
import de.vertico.starface.module.core.runtime.IAGIRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.annotations.Function;

/**
 * Sperrliste's call-processing function (agiKernelEntryPoint, PostTargetDeterminationIncoming):
 * for a call to a user, asks the module's Python hook (the block lists of all instances) and
 * applies its answer: busy or voicemail.
 */
@Function(visibility = Visibility.Private, description = "Sperrliste: call routing")
public class SperrlisteCall implements IAGIJavaExecutable {
    @Override
    public void execute(IAGIRuntimeEnvironment context) throws Exception {
        CallEffects call = context.provider().fetch(CallEffects.class);
        if (call.getTargetKind() != TargetKind.USER) {
            return;
        }
        context.provider().fetch(ModulePython.class).applyCallHook(call);
    }
}
