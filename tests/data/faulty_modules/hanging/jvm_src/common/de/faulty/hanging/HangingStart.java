package de.faulty.hanging;

import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.Visibility;
import de.vertico.starface.module.core.runtime.IBaseExecutable;
import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.annotations.Function;

/** The test module's life-cycle function (the PBX starts): starts its Python code once. */
@Function(visibility = Visibility.Private, description = "Hanging: life cycle")
public class HangingStart implements IBaseExecutable {
    @Override
    public void execute(IRuntimeEnvironment context) throws Exception {
        context.provider().fetch(ModulePython.class).start();
    }
}
