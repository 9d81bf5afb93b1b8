package de.obyte.breakthrough;

import de.sfhost.module.ext.ModulePython;
import de.vertico.starface.module.core.model.Visibility;
import de.vertico.starface.module.core.runtime.IBaseExecutable;
import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;
import de.vertico.starface.module.core.runtime.annotations.Function;

/**
 * Breakthrough's life-cycle function (the descriptor's lifeCycleEntryPoints: the module starts,
 * an instance is created, changed or deactivated). It makes sure the module's Python code (the
 * rules, in {@code python/breakthrough/} of the .sfm) has started, which registers its call
 * hook; starting is done once per installed build.
 */
@Function(visibility = Visibility.Private, description = "Breakthrough: life cycle")
public class BreakthroughEntryPoint implements IBaseExecutable {
    @Override
    public void execute(IRuntimeEnvironment context) throws Exception {
        ModulePython python = context.provider().fetch(ModulePython.class);
        boolean first = !python.isStarted();
        python.start();
        if (first) {
            BreakthroughLog.debug(context, "Breakthrough's rules started");
        }
    }
}
