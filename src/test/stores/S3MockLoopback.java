import java.lang.reflect.Method;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Compiled by the tests against S3Mock's own jars and given to it with
 * {@code context.initializer.classes}: S3Mock adds a second (plain http) Tomcat connector that
 * Spring Boot's {@code server.address} does not reach, so it would listen on every address.
 * This binds every additional connector to 127.0.0.1 before the server starts.
 */
public final class S3MockLoopback implements ApplicationContextInitializer<ConfigurableApplicationContext> {
    @Override
    public void initialize(ConfigurableApplicationContext context) {
        context.getBeanFactory().addBeanPostProcessor(new BeanPostProcessor() {
            @Override
            public Object postProcessBeforeInitialization(Object bean, String name) {
                try {
                    Method m = bean.getClass().getMethod("getAdditionalTomcatConnectors");
                    for (Object connector : (Iterable<?>) m.invoke(bean)) {
                        connector.getClass().getMethod("setProperty", String.class, String.class)
                                .invoke(connector, "address", "127.0.0.1");
                    }
                } catch (NoSuchMethodException e) {
                    // not the web server factory
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot bind S3Mock's connectors to loopback", e);
                }
                return bean;
            }
        });
    }
}
