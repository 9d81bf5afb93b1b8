package de.example.sperrliste;

import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.Visibility;
import de.vertico.starface.module.core.runtime.IBaseExecutable;
import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.annotations.Function;

/**
 * Sperrliste's life-cycle function (the PBX starts, an instance changes): starts the module's
 * Python code once per installed build, which registers its call hook.
 */
@Function(visibility = Visibility.Private, description = "Sperrliste: life cycle")
public class SperrlisteStart implements IBaseExecutable {
    @Override
    public void execute(IRuntimeEnvironment context) throws Exception {
        ModulePython python = context.provider().fetch(ModulePython.class);
        boolean first = !python.isStarted();
        python.start();
        if (first) {
            SperrlisteLog.info(context, "Sperrliste started");
        }
    }
}
